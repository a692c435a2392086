"""Property-based fuzzing of every inbound parser (``wms fuzz``); needs hypothesis, imported only when run."""
