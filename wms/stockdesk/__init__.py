"""The returns desk and stock controller: consumer returns and stock adjustments for the controller."""
