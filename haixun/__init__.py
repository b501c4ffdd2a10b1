"""haixun: marine-hazard monitoring and location risk codes for the Pinghu shoreline."""

__version__ = "0.1.0"
