"""Stage ``sim``: data we generate ourselves to test on: ``cfd`` (a lattice-Boltzmann flow past a square and
decaying 2-D turbulence).

May import: ``errors`` only."""
