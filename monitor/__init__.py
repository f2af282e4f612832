"""beltwatch service core: settings, schema, prediction log, monitor, alerts."""
