"""The model: scenario, policy, geometry and walking distances, the compiled problem, costs, objective and solutions."""
