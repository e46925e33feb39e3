"""Thin HTTP endpoints: decode, call one domain function, encode. No SQL and no rules here.

Layer: edge.
"""
