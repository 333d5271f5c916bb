"""Training: the config, the data pipeline, batch and waveform augmentation, the protocol guards, the LightningModule,
the run and its directory, and snapshot-averaged predictions."""
