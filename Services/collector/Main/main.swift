import CollectorApp
import Shared

await ServiceCommand<CollectorService>.runMain()
