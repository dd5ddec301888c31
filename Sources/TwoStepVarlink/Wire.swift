// The Foundation-free part of the protocol (values, framing, the JSON text
// the PAM module reads and writes) is TwoStepWire's; this target's users
// see it as part of TwoStepVarlink.
@_exported import TwoStepWire
