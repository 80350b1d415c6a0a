"""Speed, scale and quality benchmarks; ``python -m benchmarks`` runs all three.

Not part of ``make test`` (pytest's ``testpaths`` is ``tests/``): run them with
``make bench``. Every part writes its raw numbers to ``benchmarks/results/*.json`` and
regenerates ``benchmarks/RESULTS.md`` from whatever results are there.
"""
