"""Alerts a person gets: the text of a failed run (`message`, pure), PagerDuty events, and the
AWS adapters that read a run's reports and publish (`aws`). Standard library only: the alert
functions' bundle carries this package."""
