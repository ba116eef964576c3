"""The value-agent loop on JAX (gymnax) environments, compiled whole: its program, its
replay and its runner."""
