"""O2O on-site pickup: orders built at the experience store's counter, the clerk's command and the bench."""
