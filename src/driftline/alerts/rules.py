"""An alert rule: a measured quantity for one model, compared with a threshold.

Defined in `driftline.config.alerts` (a rule is a config entry, `alerts.rules[]`); re-exported
here for the alert engine.
"""

from driftline.config.alerts import KINDS, AlertRule, Kind

__all__ = ["KINDS", "AlertRule", "Kind"]
