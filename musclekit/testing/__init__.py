"""Fixtures the tests and the demo share, outside the shipped stage code: a small
musculoskeletal model built with the OpenSim API and motions whose answers are known
(`models`)."""
