"""The test suite: one file per module, and the harness of real parts it runs them with."""
