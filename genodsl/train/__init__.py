"""The training engine: any ``nn.Module`` on segmentation data, with exact resume.

One module per concern (import them directly; this package imports nothing itself):

* :mod:`.config`      ``TrainConfig`` (the ``train:`` section), ``LossName``, ``EmptyMaskRule``
* :mod:`.losses`, :mod:`.metrics`   losses behind one registry; DSC, IoU, HD95
* :mod:`.optim`       the loss with its class weights, optimizer and lr schedule of a run
* :mod:`.loop`        ``Trainer`` / ``fit``: epochs, validation, checkpoints, Ctrl-C, DDP
* :mod:`.batches`     the batch contract; parameter and FLOP counts
* :mod:`.history`     ``EpochStats``, ``TrainResult``, ``summary.json``
* :mod:`.checkpoint`  run folder paths, checkpoint files
* :mod:`.runlog`      JSONL log, curves, TensorBoard, progress bars, peak memory
* :mod:`.evaluate`, :mod:`.predict`, :mod:`.compare`  using trained models
"""
