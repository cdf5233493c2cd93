"""The merchant console facade, one module per console page."""
