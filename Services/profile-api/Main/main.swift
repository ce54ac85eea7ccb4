import ProfileAPIApp
import ServiceKit

await ServiceCommand<ProfileAPIService>.runMain()
