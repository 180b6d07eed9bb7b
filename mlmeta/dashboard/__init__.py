"""Dashboard pages of the artifact and model control planes and the run comparison."""
