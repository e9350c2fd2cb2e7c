"""``make bench``: the pipeline measured against what users would otherwise run (issue 8).

``python -m bench.run`` prints one table and writes ``bench/results/bench.json`` and ``bench/results/bench.md``;
``python bench/gpu.py`` times the bundles' full training schedules on a CUDA device. What each row measures and
the figures of the build machine are in ``docs/performance.md``.
"""
