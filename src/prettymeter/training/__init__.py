"""The training layer (the [train] extra): k-fold training, metrics and the servable export."""
