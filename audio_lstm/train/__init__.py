"""Training: config, model, torch front end, targets, losses, distillation, hard negatives, the loop."""
