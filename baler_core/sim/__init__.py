"""Stage ``sim``: data we generate ourselves to test on: ``cfd`` (a lattice-Boltzmann flow past a square or a
cylinder, decaying 2-D turbulence), ``campaign`` (many field files from those runs), the 3-D cube flow and 3-D
turbulence, Pythia and NanoAOD-like events.

May import: ``errors`` only."""
