"""Local AWS sandbox for opstui: moto, extended, seeded with a fleet (the only moto user).

Measured numbers are filled in below after benchmarking.
"""
