"""Stage ``training``: fitting a model. ``loop`` (the epoch loop, early stopping, checkpoints, devices) and
``train`` (data loading, config, building the model from the registry, writing it to the store).

May import: ``errors``, ``io``, ``prep``, ``coding``, ``format``, ``models``."""
