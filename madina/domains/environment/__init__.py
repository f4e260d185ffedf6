"""Environment: air-quality indices (US EPA AQI with NowCast, the European index, WHO 2021
guidelines) and environmental noise (L_den, L_night, WHO 2018) from AirQualityObserved and
NoiseLevelObserved entities. See docs/domains.md."""
