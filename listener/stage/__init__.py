"""The stage: what the listener says to other programs and to people, beside its JSON lines.

OSC out to Max, Pd, SuperCollider, TouchDesigner, Sonic Pi and Wekinator (:mod:`.osc`), a few
controls taken over OSC (:mod:`.control`), MIDI clock in and out (:mod:`.clock`), and a live
view in the browser (:mod:`.view`). Each works from a thread of its own, fed by
:class:`~listener.stage.outlets.Outlets` through queues that never make the analysis wait.
"""
