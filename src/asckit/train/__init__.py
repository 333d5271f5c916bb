"""Training: the config, the data pipeline, batch augmentation, the LightningModule, the run and its directory, and snapshot-averaged predictions."""
