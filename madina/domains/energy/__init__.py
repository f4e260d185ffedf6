"""Energy and carbon: meter readings become consumption per building and district, GPC scope 1/2
emissions from versioned factors, EUI, peak demand and load factor, and unusual-use Alerts."""
