import TwoStepCLI

TwoStep.runAndExit()
