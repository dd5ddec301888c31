import TwoStepCLI
