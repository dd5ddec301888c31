import TwoStepDaemon

await Twostepd.parseAndRun()
