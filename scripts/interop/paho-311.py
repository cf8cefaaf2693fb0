"""Wrapper (ours, not Paho's) for interoperability/client_test.py (commit be3ecc1).

That version's __main__ block cannot be used with any flag: -z/-d/-s fall through to
`assert False, "unhandled option"`, and -p/-h are left in sys.argv where unittest.main()
rejects them.  So we set the module globals its __main__ block would set and run the
same unittest.TestCase unchanged.  -z -d -s are no-ops in this version (all 10 tests,
including zero-length clientid, subscribe failure and $ topics, always run).

usage: python3 scripts/interop/paho-311.py PAHO_INTEROPERABILITY_DIR [-h HOST] -p PORT [-v]
(PAHO_INTEROPERABILITY_DIR: the interoperability/ folder of eclipse/paho.mqtt.testing)
"""
import getopt, logging, os, sys, unittest
if len(sys.argv) < 2 or not os.path.isfile(os.path.join(sys.argv[1], "client_test.py")):
  sys.exit(__doc__)
sys.path.insert(0, os.path.abspath(sys.argv.pop(1)))
import client_test as ct

opts, _ = getopt.gnu_getopt(sys.argv[1:], "h:p:vzds")
ct.host, ct.port, verbosity = "localhost", None, 1
for o, a in opts:
  if o == "-h": ct.host = a
  elif o == "-p": ct.port = int(a)
  elif o == "-v": verbosity = 2
assert ct.port and ct.port != 1883, "give -p PORT (never 1883)"
ct.topics = ("TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA")
ct.wildtopics = ("TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#")
ct.nosubscribe_topics = ("test/nosubscribe",)
logging.getLogger().setLevel(logging.ERROR)
print("hostname", ct.host, "port", ct.port)
unittest.main(module=ct, argv=[sys.argv[0]], verbosity=verbosity)
