"""Results: report models and building, the plan, explanations, diagnosis, roll-ups and comparison."""
