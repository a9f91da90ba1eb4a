"""sage_core placeholder"""
