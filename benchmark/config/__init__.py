"""The typed config: schema, composition with Hydra, validation and the run key's semantic config."""
