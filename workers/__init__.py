"""Background jobs (arq): mail, notifications, cleanup. `messenger worker` runs them."""
