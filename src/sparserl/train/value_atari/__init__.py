"""The value-agent loop on Atari games stepped by the host: its program (the JAX loop's
learner, with host-stepped acting into frame replay) and its runner."""
