"""The main job of a fresh clone: ``make demo`` runs :mod:`demo.run`."""
