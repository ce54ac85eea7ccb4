import CollectorApp
import ServiceKit

await ServiceCommand<CollectorService>.runMain()
