"""Traffic: what loop detectors' TrafficFlowObserved entities say about a road segment — density,
level of service, congestion, free-flow speed, travel-time reliability — and incident alerts."""
