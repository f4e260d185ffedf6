"""Open311 GeoReport v2: the city's service catalogue, routing of service requests to the
department responsible, their public side as `Open311ServiceRequest` entities, and the
reporters' contact details kept apart for the staff handling each request.
"""
