"""Architecture search over a ``.geno`` search space: DARTS, second-order DARTS, ProxylessNAS.

Stages, one module each (import them directly; this package imports nothing itself):

* :mod:`.strategies`  the table of strategies: name → class + help (torch-free)
* :mod:`.config`      ``SearchConfig`` (the ``search:`` section, the paper's defaults)
* :mod:`.strategy`    the ``Strategy`` protocol and the shared optimizers/penalty
* :mod:`.darts`, :mod:`.proxyless`  the strategies
* :mod:`.costs`       expected parameters/FLOPs of the derived network (cost-aware search)
* :mod:`.derive`      alphas → genotype (top-k edges, argmax op, never ``none``)
* :mod:`.genotype_file`  the output file: canonical printer + provenance header
* :mod:`.inputs`      what a search starts from, checked and bound to its run folder
* :mod:`.data`        the weight and alpha halves of the data
* :mod:`.state`       the run folder and its resumable checkpoint
* :mod:`.runner`      ``SearchJob`` → ``run_search`` → ``SearchResult``, epoch by epoch
* :mod:`.summary`, :mod:`.plots`  the closing outputs

The supernet itself is compiled from the IR by :mod:`genodsl.compile.supernet`.
"""
