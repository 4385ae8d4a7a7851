"""Outputs for people: roster workbook, web map, plots, branch leaders."""
