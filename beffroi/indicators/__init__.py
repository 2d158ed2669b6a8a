"""Indicators: definitions over datasets and ``ref.*``, computation with lineage, history,
alerts, and the data behind the dashboards (:mod:`beffroi.indicators.dashboards`)."""
