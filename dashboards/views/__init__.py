"""The dashboard's page scripts: Streamlit runs each (see dashboards/app.py); importing one
renders its page, so nothing imports them."""
