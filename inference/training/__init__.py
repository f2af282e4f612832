"""Model training support: the synthetic conveyor-frame generator and, later, torch training.

Modules here that need torch import it themselves; importing this package never does, because
the simulator and the demo use the generator without the ``train`` extra.
"""
