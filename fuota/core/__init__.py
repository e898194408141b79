"""The core: what a campaign is and how a deployment moves, with no I/O and no clock.

model     states, stages, outcomes, a device's progress
reports   what a back end reports and is asked (task spec, task ref, task and device reports)
messages  observations in, commands and events out of the engine
engine    one deployment's state machine (transitions), sans-IO
"""
