"""The inference worker: frame decoding, image statistics, the model session, actions."""
