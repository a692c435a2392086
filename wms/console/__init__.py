"""The operator console: a live terminal view of one partition's controller status, plus e-stop/resume."""
