"""How a run is carried out: device and precision, seeding and RNG state, data loaders,
signals, the CPU allocator and data-parallel processes.

One module per concern (import them directly; this package imports nothing, so the
torch-free :mod:`.allocator` stays cheap to import):

* :mod:`.device`       device choice, autocast dtype of the ``amp`` setting
* :mod:`.seeding`      seeding, DataLoader worker seeds, RNG state capture/restore
* :mod:`.loader`       the one way train and search build their DataLoaders
* :mod:`.distributed`  torch.distributed sessions, collectives, sharded batches, --nproc
* :mod:`.signals`      SIGTERM ends a run like Ctrl-C
* :mod:`.allocator`    glibc allocator tuning (torch-free)
* :mod:`.saving`       ``torch.save`` written atomically
* :mod:`.compiling`    ``torch.compile`` (whole or in parts), its cache, recomputation
"""
