"""One simulated 24-hour day through the whole flow (``wms bench day``): run, report, sweep, render, plot."""
