"""Heat index (apparent temperature) from air temperature and relative humidity.

The US National Weather Service algorithm (NWS Weather Prediction Center, "The Heat Index
Equation", https://www.wpc.ncep.noaa.gov/html/heatindex_equation.shtml):

1. the simple formula HI = 0.5·(T + 61 + 1.2·(T − 68) + 0.094·RH); while its average with T
   stays below 80 °F, it is the heat index;
2. otherwise the Rothfusz regression (L. P. Rothfusz, "The Heat Index Equation", NWS Technical
   Attachment SR 90-23, 1990), a fit to Steadman's apparent-temperature tables (R. G.
   Steadman, J. Appl. Meteor. 18, 1979), within about ±1.3 °F of them;
3. minus [(13 − RH)/4]·√([17 − |T − 95|]/17) when RH < 13 % and 80 ≤ T ≤ 112 °F;
   plus [(RH − 85)/10]·[(87 − T)/5] when RH > 85 % and 80 ≤ T ≤ 87 °F.

T in °F, RH in percent. The NWS heat index categories (NWS heat index chart: Caution 80–90 °F,
Extreme Caution 90–103 °F, Danger 103–124 °F, Extreme Danger ≥ 125 °F) are the default
levels of `HeatSettings`, converted to °C.
"""

from __future__ import annotations

import math


def fahrenheit(celsius: float) -> float:
    return celsius * 9.0 / 5.0 + 32.0


def celsius(fahrenheit: float) -> float:
    return (fahrenheit - 32.0) * 5.0 / 9.0


def heat_index_f(t: float, rh: float) -> float:
    """Heat index in °F from temperature `t` in °F and relative humidity `rh` in percent."""
    simple = 0.5 * (t + 61.0 + (t - 68.0) * 1.2 + rh * 0.094)
    if (simple + t) / 2.0 < 80.0:
        return simple
    hi = (-42.379 + 2.04901523 * t + 10.14333127 * rh - 0.22475541 * t * rh
          - 0.00683783 * t * t - 0.05481717 * rh * rh + 0.00122874 * t * t * rh
          + 0.00085282 * t * rh * rh - 0.00000199 * t * t * rh * rh)
    if rh < 13.0 and 80.0 <= t <= 112.0:
        hi -= (13.0 - rh) / 4.0 * math.sqrt((17.0 - abs(t - 95.0)) / 17.0)
    elif rh > 85.0 and 80.0 <= t <= 87.0:
        hi += (rh - 85.0) / 10.0 * (87.0 - t) / 5.0
    return hi


def heat_index_c(t: float, rh: float) -> float:
    """Heat index in °C from temperature `t` in °C and relative humidity `rh` in percent."""
    return celsius(heat_index_f(fahrenheit(t), rh))
